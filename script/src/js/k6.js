const k = globalThis.__k6;
export const check = k.check;
export const group = k.group;
export const sleep = k.sleep;
export const fail = k.fail;
export const randomSeed = k.randomSeed;
export default { check, group, sleep, fail, randomSeed };
