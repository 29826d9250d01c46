// Web Push on this device: register the service worker, subscribe with the server's VAPID key
// and store the subscription; or undo all of it. The server sends alerts to every subscribed
// browser of the household.

import { ApiError, api } from "./api.js";

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker.register("/sw.js", { scope: "/" });
}

export async function current() {
  if (!supported()) return null;
  const existing = await navigator.serviceWorker.getRegistration("/");
  return existing ? existing.pushManager.getSubscription() : null;
}

export async function turnOn() {
  const { public_key: key } = await api("/api/push/key", { quiet: true });
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
  const reg = await registration();
  await navigator.serviceWorker.ready;
  let subscription;
  try {
    subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  } catch (error) {
    throw new Error(`The browser's push service refused: ${error?.message ?? error}`);
  }
  await api("/api/push/subscriptions", { method: "POST", body: subscription.toJSON(), quiet: true });
  return subscription;
}

export async function turnOff() {
  const subscription = await current();
  if (!subscription) return;
  try {
    await api(`/api/push/subscriptions?endpoint=${encodeURIComponent(subscription.endpoint)}`, { method: "DELETE", quiet: true });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  await subscription.unsubscribe();
}
