// Registers the service worker (kept out of inline script: CSP is script-src 'self').
if (navigator.serviceWorker) {
  const register = () =>
    navigator.serviceWorker
      // updateViaCache "none": the browser always revalidates /sw.js, so a new shell version is seen promptly.
      .register("/sw.js", { scope: "/", updateViaCache: "none" })
      .catch((err) => console.warn("service worker registration failed:", err));
  // Wait for load so registration and precaching don't compete with the first page's own requests.
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register);
}
