// js-yaml comes with eslint (a dev dependency); only load() is used, by packaging.test.ts.
declare module 'js-yaml' {
  export function load(text: string): unknown;
  const yaml: { load: typeof load };
  export default yaml;
}
