// The time-window selector in the header. The window lives in the URL, so every view and deep link shares it.
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { LOOKBACK_CHOICES, readWindow, writeWindow, type TimeWindow } from '../time-window.ts';

const LABELS: Record<string, string> = { '5m': 'Last 5 min', '15m': 'Last 15 min', '1h': 'Last hour', '6h': 'Last 6 h', '24h': 'Last 24 h', '7d': 'Last 7 days' };

/** `Date` → the value a datetime-local input shows (local time). */
function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

export function WindowPicker() {
  const [params, setParams] = useSearchParams();
  const timeWindow = readWindow(params);
  const [custom, setCustom] = useState(timeWindow.kind === 'range');
  const now = Date.now();
  const [from, setFrom] = useState(toLocalInput(timeWindow.kind === 'range' ? timeWindow.from : now - (timeWindow.kind === 'lookback' ? timeWindow.lookbackMs : 900_000)));
  const [to, setTo] = useState(toLocalInput(timeWindow.kind === 'range' ? timeWindow.to : now));
  const [problem, setProblem] = useState<string | undefined>(undefined);

  const apply = (next: TimeWindow): void => setParams(writeWindow(params, next));
  const selectValue = timeWindow.kind === 'range' || custom ? 'custom' : timeWindow.lookback;

  return (
    <div className="window-picker">
      <label className="visually-hidden" htmlFor="window-select">
        Time window
      </label>
      <select
        id="window-select"
        value={selectValue}
        onChange={(e) => {
          const value = e.target.value;
          if (value === 'custom') {
            setCustom(true);
            return;
          }
          setCustom(false);
          apply({ kind: 'lookback', lookback: value, lookbackMs: 0, ...(timeWindow.run ? { run: timeWindow.run } : {}) });
        }}
      >
        {LOOKBACK_CHOICES.map((c) => (
          <option key={c} value={c}>
            {LABELS[c]}
          </option>
        ))}
        {timeWindow.kind === 'lookback' && !(LOOKBACK_CHOICES as readonly string[]).includes(timeWindow.lookback) ? (
          <option value={timeWindow.lookback}>Last {timeWindow.lookback}</option>
        ) : null}
        <option value="custom">Custom range…</option>
      </select>
      {selectValue === 'custom' ? (
        <form
          className="window-range"
          onSubmit={(e) => {
            e.preventDefault();
            const fromMs = Date.parse(from);
            const toMs = Date.parse(to);
            if (Number.isNaN(fromMs) || Number.isNaN(toMs)) return setProblem('Both times are needed.');
            if (fromMs >= toMs) return setProblem('“From” must be before “to”.');
            setProblem(undefined);
            apply({ kind: 'range', from: fromMs, to: toMs, ...(timeWindow.run ? { run: timeWindow.run } : {}) });
          }}
        >
          <label>
            from <input type="datetime-local" step={1} value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            to <input type="datetime-local" step={1} value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button className="button" type="submit">
            Apply
          </button>
          {problem ? (
            <span className="field-error" role="alert">
              {problem}
            </span>
          ) : null}
        </form>
      ) : null}
      {timeWindow.run ? (
        <span className="chip" title="Everything shown is restricted to this load-test run">
          run {timeWindow.run}
          <button
            type="button"
            aria-label={`Stop restricting to run ${timeWindow.run}`}
            onClick={() => {
              const next = new URLSearchParams(params);
              next.delete('run');
              setParams(next);
            }}
          >
            ×
          </button>
        </span>
      ) : null}
    </div>
  );
}
