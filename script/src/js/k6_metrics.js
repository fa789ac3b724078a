const k = globalThis.__k6;
export const Counter = k.Counter;
export const Gauge = k.Gauge;
export const Rate = k.Rate;
export const Trend = k.Trend;
export default { Counter, Gauge, Rate, Trend };
