"""Dashboard widgets, where a person starts messages.

node-red-dashboard (``ui_*``) and FlowFuse Dashboard 2
(``@flowfuse/node-red-dashboard``, ``ui-*``).

A widget that receives a message only shows it; it passes the message on
only when its "pass through" setting is on.
"""

from __future__ import annotations

from ..flows import Node
from ..values import Shapes, typed_constant
from .declare import MANUAL, NodeType, Transfer, forgets, starts, swallows, topic_const

DASHBOARD = "node-red-dashboard"
DASHBOARD_2 = "@flowfuse/node-red-dashboard"


def _switch_emits(node: Node) -> Shapes:
    topic = topic_const(node)
    on = typed_constant(node.get("onvalue", True), node.get("onvalueType", "bool"))
    off = typed_constant(node.get("offvalue", False), node.get("offvalueType", "bool"))
    return frozenset({(topic, on), (topic, off)})


def _button_emits(node: Node) -> Shapes:
    return frozenset({(topic_const(node), typed_constant(node.get("payload"),
                                                         node.get("payloadType")))})


def _passthru(node: Node, shapes: Shapes) -> Shapes:
    """An input message is only shown, unless "pass through" is on."""
    return shapes if node.get("passthru") in (True, "true") else swallows(node, shapes)


def _emulate_click(node: Node, shapes: Shapes) -> Shapes:
    """With "emulate a button click", an input message presses the button: its payload."""
    if node.get("passthru") not in (True, "true"):
        return swallows(node, shapes)
    (_, payload), = _button_emits(node)
    fixed = topic_const(node)
    own_topic = isinstance(node.get("topic"), str) and node["topic"] != ""
    return frozenset((fixed if own_topic else topic, payload) for topic, _ in shapes)


def _template_forwards(node: Node, shapes: Shapes) -> Shapes:
    """A ui_template passes input messages on unless "pass through" is unticked."""
    return swallows(node, shapes) if node.get("fwdInMessages") in (False, "false") else shapes


_WIDGET = "A dashboard widget: a person acts (manual)."
_INPUT = _WIDGET + " Input messages pass on only with 'pass through' on."


def _widgets(names: str, package: str, transfer: Transfer) -> list[NodeType]:
    summary = _INPUT if transfer is _passthru else _WIDGET
    return [NodeType(name, package, summary, trigger=starts(MANUAL), transfer=transfer)
            for name in names.split("|")]


TYPES: list[NodeType] = [
    NodeType("ui_switch", DASHBOARD, _INPUT, trigger=starts(MANUAL), emits=_switch_emits,
             transfer=_passthru),
    NodeType("ui-switch", DASHBOARD_2, _INPUT, trigger=starts(MANUAL), emits=_switch_emits,
             transfer=_passthru),
    NodeType("ui_button", DASHBOARD, _WIDGET + " An input message presses it only with "
             "'emulate a button click'.", trigger=starts(MANUAL), emits=_button_emits,
             transfer=_emulate_click),
    NodeType("ui-button", DASHBOARD_2, _WIDGET + " An input message presses it only with "
             "'emulate a button click'.", trigger=starts(MANUAL), emits=_button_emits,
             transfer=_emulate_click),
    NodeType("ui_template", DASHBOARD, _WIDGET + " Its own HTML sends what a person does; "
             "input messages pass on unless 'pass through' is unticked.",
             trigger=starts(MANUAL), transfer=_template_forwards),
    *_widgets("ui_slider|ui_dropdown|ui_numeric|ui_text_input|ui_date_picker|ui_colour_picker",
              DASHBOARD, _passthru),
    *_widgets("ui_form|ui_ui_control", DASHBOARD, forgets),
    *_widgets("ui-slider|ui-dropdown|ui-number-input|ui-text-input|ui-radio-group|"
              "ui-button-group|ui-date-picker|ui-color-picker", DASHBOARD_2, _passthru),
    *_widgets("ui-form|ui-control", DASHBOARD_2, forgets),
    *[NodeType(name, DASHBOARD, "Shows data on the dashboard.", transfer=forgets)
      for name in "ui_text|ui_gauge|ui_chart|ui_toast|ui_audio|ui_table".split("|")],
]
