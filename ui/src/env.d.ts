// Types for what the bundler (ui/build.ts) lets browser code import besides TypeScript.
declare module '*.css';
declare module '*?url' {
  const url: string;
  export default url;
}
