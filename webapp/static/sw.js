// Service worker for the app shell. Served by the app at /sw.js (scope "/").
// The server replaces the placeholder below with a content hash of the shell,
// so any change to a shell file yields a new worker and a fresh cache.
const VERSION = "__SHELL_VERSION__";
const CACHE = `shell-${VERSION}`;
const SHELL = [
  "/offline",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/vendor/htmx/htmx.min.js",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // Fingerprinted URLs (?v=) are immutable: the copy the page just loaded into the HTTP cache is the right
      // one, so the first visit does not download them twice. The others are revalidated ("no-cache").
      .then((cache) =>
        cache.addAll(SHELL.map((url) => new Request(url, { cache: url.includes("?v=") ? "default" : "no-cache" }))),
      )
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  // htmx partials are live, often authenticated fragments: leave them to the network untouched.
  if (request.headers.has("HX-Request")) return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    // Network only (pages may be authenticated, so they are never stored); offline page on failure.
    event.respondWith(
      fetch(request).catch(
        async () => (await caches.match("/offline", { cacheName: CACHE })) || Response.error(),
      ),
    );
    return;
  }

  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    // Cache-first from the shell; anything not precached just goes to the network and is not stored.
    event.respondWith(
      caches.match(request, { cacheName: CACHE }).then((hit) => hit || fetch(request)),
    );
  }
});
