// sls-load's own implementation of the helpers of jslib.k6.io/k6-utils that k6
// examples use (same names and behaviour; written here, not copied).
export function randomIntBetween(min, max) {
  return Math.floor(Math.random() * (max - min + 1) + min);
}
export function randomItem(arrayOfItems) {
  return arrayOfItems[Math.floor(Math.random() * arrayOfItems.length)];
}
export function randomString(length, charset) {
  const chars = charset || 'abcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (let i = 0; i < length; i++) out += chars.charAt(Math.floor(Math.random() * chars.length));
  return out;
}
export function uuidv4(secure) {
  const hex = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) s += '-';
    else if (i === 14) s += '4';
    else if (i === 19) s += hex[(Math.random() * 4 | 0) + 8];
    else s += hex[Math.random() * 16 | 0];
  }
  return s;
}
export function findBetween(content, left, right, repeat) {
  const out = [];
  let from = 0;
  for (;;) {
    const a = content.indexOf(left, from);
    if (a < 0) break;
    const b = content.indexOf(right, a + left.length);
    if (b < 0) break;
    const v = content.substring(a + left.length, b);
    if (!repeat) return v;
    out.push(v);
    from = b + right.length;
  }
  return repeat ? out : null;
}
export function normalDistributionStages(maxVus, durationSeconds, numberOfStages) {
  throw new Error('normalDistributionStages is not supported by sls-load');
}
export function getCurrentStageIndex() {
  throw new Error('getCurrentStageIndex is not supported by sls-load');
}
export function tagWithCurrentStageIndex() {
  throw new Error('tagWithCurrentStageIndex is not supported by sls-load');
}
export function tagWithCurrentStageProfile() {
  throw new Error('tagWithCurrentStageProfile is not supported by sls-load');
}
