// The same mark the app sets when its first screen is committed.
window.addEventListener("DOMContentLoaded", () => performance.mark("first-content"));
