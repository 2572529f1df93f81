// Dialtone's console: times in the reader's own time zone. The server writes each time as
// <time datetime="ISO">ISO</time>; here it becomes local time (and how long ago, within a week),
// with the ISO form kept as its tooltip. Pages work without it: they show the ISO form.
(function () {
  var rel = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  function ago(d) {
    var s = (d.getTime() - Date.now()) / 1000, a = Math.abs(s);
    if (!rel || a > 7 * 86400) return "";
    if (a < 60) return rel.format(Math.round(s), "second");
    if (a < 3600) return rel.format(Math.round(s / 60), "minute");
    if (a < 86400) return rel.format(Math.round(s / 3600), "hour");
    return rel.format(Math.round(s / 86400), "day");
  }
  function localTimes(root) {
    var times = root.querySelectorAll ? root.querySelectorAll("time[datetime]") : [];
    for (var i = 0; i < times.length; i++) {
      var t = times[i], iso = t.getAttribute("datetime");
      if (t.getAttribute("data-local")) continue;
      var d = new Date(iso);
      if (isNaN(d.getTime())) continue;
      var when = ago(d);
      t.textContent = d.toLocaleString() + (when ? " (" + when + ")" : "");
      t.title = iso;
      t.setAttribute("data-local", "1");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
})();

// Confirmations and "Back" links without inline script (the console's Content-Security-Policy
// runs only these files): a form or a button with data-confirm asks before it is sent; a link
// with data-back goes back where there is somewhere to go back to.
(function () {
  function closest(el, sel) { return el && el.closest ? el.closest(sel) : null; }
  document.addEventListener("click", function (e) {
    var b = closest(e.target, "button[data-confirm], input[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) { e.preventDefault(); return; }
    var a = closest(e.target, "a[data-back]");
    if (a && window.history.length > 1) { e.preventDefault(); window.history.back(); }
  });
  document.addEventListener("submit", function (e) {
    var q = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });
})();
