// hearthcam's service worker: shows alert notifications pushed by the server (Web Push) and
// opens the event page when one is tapped. It caches nothing: footage never lands in a cache.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function parse(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const alert = parse(event);
  event.waitUntil(
    self.registration.showNotification(alert.title || "hearthcam", {
      body: alert.body || "",
      tag: alert.tag || undefined,
      icon: "/static/icon.svg",
      badge: "/static/icon.svg",
      data: { url: alert.url || "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Only a page of this app is opened: the path of the link, on this origin.
  const link = new URL(event.notification.data?.url || "/", self.location.origin);
  const target = new URL(link.pathname + link.search, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => client.url === target);
      if (open) return open.focus();
      return self.clients.openWindow(target);
    })(),
  );
});
