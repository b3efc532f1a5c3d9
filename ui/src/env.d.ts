// Types Vite adds to the browser code (CSS imports, import.meta.env).
/// <reference types="vite/client" />
