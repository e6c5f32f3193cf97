import { byId, h } from './dom.ts';

/** Short messages at the corner of the page, read out by screen readers (the container is aria-live). */
export function notify(message: string, kind: 'info' | 'error' = 'info'): void {
  const container = byId('toasts');
  const toast = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : null }, message);
  container.appendChild(toast);
  // Errors stay longer: they are the ones someone needs to read.
  setTimeout(() => toast.remove(), kind === 'error' ? 8000 : 4000);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Shows `message` in an inline error paragraph, or hides it for `null`. */
export function showError(element: HTMLElement, message: string | null): void {
  element.textContent = message ?? '';
  element.hidden = message === null;
}
