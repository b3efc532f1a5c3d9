// Light/dark theme: follows the system unless the user picked one (kept in localStorage, not in the URL,
// because it is a preference of the reader rather than state of what is shown).
import { createContext, useContext, useEffect, useState } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'meshlet.theme';

function readChoice(): ThemeChoice {
  try {
    const saved = localStorage.getItem(KEY);
    return saved === 'light' || saved === 'dark' ? saved : 'system';
  } catch {
    return 'system';
  }
}

function systemDark(): boolean {
  return window.matchMedia('(prefers-color-scheme: dark)').matches;
}

/** The chosen theme, the one in effect, and a setter. */
export function useTheme(): { choice: ThemeChoice; resolved: 'light' | 'dark'; setChoice: (c: ThemeChoice) => void } {
  const [choice, setChoiceState] = useState<ThemeChoice>(readChoice);
  const [dark, setDark] = useState<boolean>(systemDark);
  useEffect(() => {
    const query = window.matchMedia('(prefers-color-scheme: dark)');
    const onChange = (): void => setDark(query.matches);
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, []);
  useEffect(() => {
    if (choice === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = choice;
    try {
      if (choice === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      // Storage may be disabled; the choice then lasts for this page only.
    }
  }, [choice]);
  const resolved = choice === 'system' ? (dark ? 'dark' : 'light') : choice;
  return { choice, resolved, setChoice: setChoiceState };
}

/** The theme in effect, for components that draw colours themselves (the graph). */
export const ThemeContext = createContext<'light' | 'dark'>('light');
export function useResolvedTheme(): 'light' | 'dark' {
  return useContext(ThemeContext);
}
