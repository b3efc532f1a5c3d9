// Builds the UI into ui/dist, which the collector serves at `/` on 16686.
// `npm run dev -w ui` serves it with hot reload and forwards /api to a running collector
// (MESHLET_UI_COLLECTOR, default http://127.0.0.1:16686).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const collector = process.env.MESHLET_UI_COLLECTOR ?? 'http://127.0.0.1:16686';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // elkjs alone is ~1.4 MB minified; one chunk per view library keeps the first paint small.
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': { target: collector, changeOrigin: false } } },
});
