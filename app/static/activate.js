/* Trang kích hoạt: the link in the codes sheet carries the username and the one-time code after
   "#" (u=…&ma=…), which browsers never send to a server, so the code stays out of every log.
   Fill the form from it, then drop it from the address bar and the history. */
(function () {
  "use strict";
  var hash = window.location.hash.replace(/^#/, "");
  if (!hash) return;
  var params = new URLSearchParams(hash);
  var username = params.get("u");
  var code = params.get("ma");
  var usernameField = document.getElementById("username");
  var codeField = document.getElementById("code");
  if (username && usernameField && !usernameField.value) usernameField.value = username;
  if (code && codeField) codeField.value = code;
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var next = document.getElementById(username && code ? "password" : "username");
  if (next) next.focus();
})();
