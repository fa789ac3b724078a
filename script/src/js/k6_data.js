export const SharedArray = globalThis.__k6.SharedArray;
export default { SharedArray };
