// ACM cross-runtime resolver entry (a fixed template; nothing from flows is pasted in).
// Each publishing application was moved to its own topic acm/<conflict>/<application>,
// with "/" in the application id written as "~". The last topic level names the
// application; the resolver after this node decides which command wins.
const levels = String(msg.topic || "").split("/");
const app = (levels[levels.length - 1] || "").replace(/~/g, "/");
msg.acm = {app: app || undefined, target: 0, role: "command"};
return msg;
