/* The language menu at the top of the admin: choosing a language submits its
   form at once (without script, the <noscript> button does). A static file, not
   an inline handler, so the Content-Security-Policy can forbid inline scripts. */
(function () {
  "use strict";
  const choice = document.getElementById("language-choice");
  if (choice && choice.form) {
    choice.addEventListener("change", () => choice.form.submit());
  }
})();
