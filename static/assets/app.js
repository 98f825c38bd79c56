// Shows what the server said about this page: proof that scripts are served too.
(function () {
  "use strict";
  var note = document.getElementById("served");
  fetch(location.pathname, { method: "HEAD", cache: "no-store" })
    .then(function (response) {
      var server = response.headers.get("Server") || "an unnamed server";
      var type = response.headers.get("Content-Type") || "unknown type";
      note.textContent = "This page was served by " + server + " as " + type + ".";
    })
    .catch(function () {
      note.textContent = "This script was served too.";
    });
})();
