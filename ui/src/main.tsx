// Entry point: mounts the app. The only module with side effects at load.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { App } from './app.tsx';
import { StreamProvider } from './stream.tsx';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <StreamProvider>
        <App />
      </StreamProvider>
    </BrowserRouter>
  </StrictMode>,
);
