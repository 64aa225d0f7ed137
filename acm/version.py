"""The version of ACM, in a module of its own: outputs that name the tool import it
from here, not from the package root, so no module imports ``acm`` back."""

__version__ = "0.1.0"
