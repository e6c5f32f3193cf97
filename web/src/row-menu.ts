import { h } from './dom.ts';

export interface MenuItem {
  text: string;
  /** The accessible name, when the visible text alone would be ambiguous ("Delete" → "Delete a.pdf"). */
  label?: string;
  danger?: boolean;
  action: () => void;
}

let closeOpen: (() => void) | undefined;

/**
 * A row's actions behind one button (phone width): a menu button (aria-haspopup, aria-expanded)
 * whose items are built when it opens, so a long list costs one button per row. Arrow keys move
 * between items, Escape and Tab close it and give the focus back. The shell has no listeners, so a
 * prepared row can hold one to clone; `wireRowMenu` makes a (cloned) shell a menu.
 */
export function rowMenuShell(): HTMLElement {
  return h('div', { class: 'row-menu' }, h('button', { type: 'button', class: 'menu-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false' }, '⋯'));
}

/** Makes a menu of `wrap` (a shell, or a clone of one, its button given `aria-label` and `data-focus-key`). */
export function wireRowMenu(wrap: HTMLElement, items: () => MenuItem[]): void {
  const trigger = wrap.firstElementChild as HTMLButtonElement;
  const label = trigger.getAttribute('aria-label') ?? '';
  const close = (refocus: boolean) => {
    // Focus first: removing the focused item would drop the focus to <body>.
    if (refocus) trigger.focus();
    wrap.querySelector('[role="menu"]')?.remove();
    trigger.setAttribute('aria-expanded', 'false');
    if (closeOpen === closer) closeOpen = undefined;
  };
  const closer = () => close(false);
  const open = (focusLast = false) => {
    closeOpen?.();
    const buttons = items().map((item) =>
      h(
        'button',
        {
          type: 'button',
          role: 'menuitem',
          tabindex: '-1',
          class: item.danger ? 'danger-text' : undefined,
          'aria-label': item.label,
          onclick: () => {
            close(true);
            item.action();
          },
        },
        item.text,
      ),
    );
    const menu = h('div', { role: 'menu', class: 'menu', 'aria-label': label }, ...buttons);
    menu.addEventListener('keydown', (event) => {
      const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
      const move = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
      if (move !== undefined) {
        event.preventDefault();
        buttons[(move + buttons.length) % buttons.length]?.focus();
      } else if (event.key === 'Escape' || event.key === 'Tab') {
        event.preventDefault();
        close(true);
      }
    });
    menu.addEventListener('focusout', (event) => {
      if (!wrap.contains(event.relatedTarget as Node | null)) close(false);
    });
    wrap.append(menu);
    trigger.setAttribute('aria-expanded', 'true');
    closeOpen = closer;
    buttons[focusLast ? buttons.length - 1 : 0]?.focus();
  };
  trigger.addEventListener('click', () => (trigger.getAttribute('aria-expanded') === 'true' ? close(true) : open()));
  trigger.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      open(event.key === 'ArrowUp');
    }
  });
}

document.addEventListener('click', (event) => {
  if (!(event.target as Element | null)?.closest?.('.row-menu')) closeOpen?.();
});
