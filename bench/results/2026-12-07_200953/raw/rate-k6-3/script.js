import http from 'k6/http';
export const options = { discardResponseBodies: true, scenarios: { s: { executor: 'constant-arrival-rate', rate: 20000, timeUnit: '1s', duration: '10s', preAllocatedVUs: 50, maxVUs: 200 } } };
export default function () { http.get('http://127.0.0.1:18080/'); }
