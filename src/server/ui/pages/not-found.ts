import { html } from '../../../ui/html.ts';
import { layout, type PageContext } from './layout.ts';

export function notFoundPage(ctx: PageContext, what: string): string {
  const main = html`
<div class="not-found">
  <h1>Not found</h1>
  <p>${what}</p>
  <p><a href="/">Go to the home page</a> or search for a project above.</p>
</div>`;
  return layout(ctx, { title: 'Not found', main });
}
