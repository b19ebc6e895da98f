// A small accessibility check run in the page on each screen (axe-core is not installed here): the
// things a screen reader or keyboard user hits first. Returns one line per problem.
import type { Page } from 'playwright-core';

export function a11yProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const name = (el: Element) => (el.getAttribute('aria-label') ?? el.getAttribute('aria-labelledby') ?? el.textContent ?? '').trim();
    if (!document.documentElement.lang) problems.push('<html> has no lang');
    const h1s = document.querySelectorAll('main h1');
    if (h1s.length !== 1) problems.push(`main has ${h1s.length} h1 elements`);
    if (!document.querySelector('nav[aria-label]')) problems.push('navigation has no label');
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const id = el.getAttribute('id');
      const labelled = (id && document.querySelector(`label[for="${id}"]`)) || el.getAttribute('aria-label') || el.closest('label');
      if (!labelled) problems.push(`${el.tagName.toLowerCase()}#${id ?? '?'} has no label`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!(el as HTMLElement).offsetParent && getComputedStyle(el).position !== 'fixed') continue;
      if (name(el) === '') problems.push(`${el.tagName.toLowerCase()} without an accessible name`);
    }
    for (const el of document.querySelectorAll('video, canvas, img')) {
      if (!el.getAttribute('aria-label') && !el.getAttribute('alt')) problems.push(`${el.tagName.toLowerCase()} without a text alternative`);
    }
    const ids = new Map<string, number>();
    for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
    for (const [id, n] of ids) if (n > 1) problems.push(`id "${id}" used ${n} times`);
    return problems;
  });
}
