// Entry point. The chat imports the vendored libraries (copied in by scripts/build_assets.sh); a static import
// would fail silently when they are missing, a dynamic one lets the page say what to do.
import("./chat.js")
  .then((chat) => chat.start())
  .catch((error) => {
    console.error(error);
    const box = document.getElementById("notice");
    box.classList.add("error");
    box.textContent =
      "The chat could not start: its scripts did not load. If you run the server from a checkout, " +
      "run scripts/build_assets.sh (or scripts/setup.sh) once, then reload.";
  });
