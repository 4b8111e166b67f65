/** Formats a greeting; shared by the api and the worker. */
export function greet(name) {
  return `hello, ${name}`;
}
