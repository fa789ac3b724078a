const e = globalThis.__k6.execution;
export default e;
