// Form pieces shared by the filter bars: a labelled select with an "any" choice, and table headers.
import type { ReactNode } from 'react';
import { FAILURE_REASONS } from '@meshlet/wire';
import { reasonLabel } from '../format.ts';

export type Choice = string | { value: string; label: string };

/** Every failure reason, in words. */
export const REASON_CHOICES: readonly Choice[] = FAILURE_REASONS.map((r) => ({ value: r, label: reasonLabel(r) }));

/**
 * `<label>` + `<select>` whose first choice is "any" (empty value). A value that is not among the choices
 * (from a deep link, or a service that left the window) is still shown rather than silently dropped.
 */
export function SelectField({
  label,
  name,
  value,
  choices,
  onChange,
  disabled = false,
  search = false,
}: {
  label: string;
  name: string;
  value: string;
  choices: readonly Choice[];
  onChange: (value: string) => void;
  disabled?: boolean;
  /** The field `/` focuses. */
  search?: boolean;
}) {
  const list = choices.map((c) => (typeof c === 'string' ? { value: c, label: c } : c));
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} {...(search ? { 'data-search': true } : {})}>
        <option value="">any</option>
        {list.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
        {value && !list.some((c) => c.value === value) ? <option value={value}>{value}</option> : null}
      </select>
    </label>
  );
}

export interface Column {
  label: ReactNode;
  /** Right-aligned numbers. */
  num?: boolean;
}

export function TableHead({ columns }: { columns: readonly (Column | string)[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => {
          const col = typeof c === 'string' ? { label: c } : c;
          return (
            <th key={i} scope="col" className={col.num ? 'num' : undefined}>
              {col.label}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}
