// The QA review form's shortcuts: a = agree, d = disagree (then the reason field).
(function () {
  "use strict";
  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var form = document.getElementById("qa-review-form");
    if (!form) return;
    if (e.key === "a") {
      e.preventDefault();
      form.querySelector("#verdict-agree").checked = true;
      form.querySelector("#qa-submit").focus();
    } else if (e.key === "d") {
      e.preventDefault();
      e.stopImmediatePropagation();
      form.querySelector("#verdict-disagree").checked = true;
      form.querySelector("#qa-reason").focus();
    }
  }, true);
})();
