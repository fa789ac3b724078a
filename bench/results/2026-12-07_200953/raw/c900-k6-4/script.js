import http from 'k6/http';
export const options = { discardResponseBodies: true, scenarios: { s: { executor: 'constant-vus', vus: 900, duration: '10s' } } };
export default function () { http.get('http://127.0.0.1:18082/'); }
