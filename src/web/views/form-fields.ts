// Labelled form inputs with their validation message (aria-describedby), so every form looks alike.
import { html, type SafeHtml } from './html.js';

export interface FieldSpec {
  name: string;
  label: string;
  type?: string;
  value?: string | number | null;
  error?: string;
  hint?: string;
  required?: boolean;
  autocomplete?: string;
  attrs?: SafeHtml;
}

export function field(f: FieldSpec): SafeHtml {
  const id = `f-${f.name}`;
  const described = [f.error ? `${id}-error` : '', f.hint ? `${id}-hint` : ''].filter(Boolean).join(' ');
  return html`<div class="field${f.error ? ' has-error' : ''}">
    <label for="${id}">${f.label}</label>
    <input
      id="${id}"
      name="${f.name}"
      type="${f.type ?? 'text'}"
      value="${f.value ?? ''}"
      ${f.required ? html` required` : ''}${
        f.autocomplete ? html` autocomplete="${f.autocomplete}"` : ''
      }${described ? html` aria-describedby="${described}"` : ''}${f.error ? html` aria-invalid="true"` : ''}
      ${f.attrs ?? ''}
    />
    ${f.hint ? html`<small id="${id}-hint" class="hint">${f.hint}</small>` : ''}
    ${f.error ? html`<small id="${id}-error" class="error">${f.label}: ${f.error}</small>` : ''}
  </div>`;
}

export function checkboxField(f: { name: string; label: string; checked: boolean; hint?: string; error?: string }): SafeHtml {
  const id = `f-${f.name}`;
  return html`<div class="field check${f.error ? ' has-error' : ''}">
    <input id="${id}" name="${f.name}" type="checkbox" value="on" ${f.checked ? html` checked` : ''} />
    <label for="${id}">${f.label}</label>
    ${f.hint ? html`<small class="hint">${f.hint}</small>` : ''}
    ${f.error ? html`<small id="${id}-error" class="error">${f.label}: ${f.error}</small>` : ''}
  </div>`;
}

export function errorSummary(errors: Record<string, string>): SafeHtml {
  const entries = Object.entries(errors);
  if (!entries.length) return html``;
  return html`<div class="errors" role="alert">
    <p>Please correct the following:</p>
    <ul>
      ${entries.map(([k, v]) => html`<li>${k.replace(/_/g, ' ')}: ${v}</li>`)}
    </ul>
  </div>`;
}
