/* hoctap service worker: keeps the staff pages an assessor opened, and the files they need, so
   the forms still open with no connection in a village. Pages are fetched from the network first
   (always the newest when online) and from this cache only when the network fails. Filed
   assessments are never cached or replayed here: offline.js queues them with their client id. */
const CACHE = "hoctap-v1";
const ASSETS = ["/assets/site.css", "/assets/vendor/htmx.min.js", "/assets/offline.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

function cacheable(request) {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  // The forms and the pages an assessor moves between; never documents, reports or the API.
  return url.pathname.startsWith("/assets/") || url.pathname === "/can-bo" || url.pathname.startsWith("/can-bo/danh-gia/moi")
    || url.pathname === "/can-bo/nguoi";
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!cacheable(request)) return;
  if (new URL(request.url).pathname.startsWith("/assets/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  event.respondWith(
    fetch(request)
      .then((response) => {
        // Only a real page is kept: not a redirect to the sign-in page, not an error.
        if (response.ok && !response.redirected) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || caches.match("/can-bo")))
  );
});
