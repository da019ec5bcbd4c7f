/* global self */
// Shows a prompt pushed to this browser; a click opens the device page on it (the id in the fragment).
self.addEventListener('push', (event) => {
  const prompt = event.data ? event.data.json() : undefined;
  if (!prompt || prompt.type !== 'idp.prompt') return;
  event.waitUntil(
    self.registration.showNotification(`Sign-in to ${prompt.app}?`, {
      body: `From ${prompt.location}. Tap to answer.`,
      tag: prompt.prompt_id,
      requireInteraction: true,
      data: { id: prompt.prompt_id },
    }),
  );
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(`/prompt/#${encodeURIComponent(event.notification.data.id)}`));
});
