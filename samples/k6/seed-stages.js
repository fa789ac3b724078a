// The first k6 script of the seed documents, as a k6 user writes it: ramping
// stages, a latency threshold, a status check and a one-second think time.
// `sls-load run samples/k6/seed-stages.js --target http://127.0.0.1:8080`
// sends its requests to the target instead of test.k6.io.
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  stages: [
    { duration: '30s', target: 100 },
    { duration: '1m', target: 1000 },
    { duration: '30s', target: 0 },
  ],
  thresholds: {
    http_req_duration: ['p(95)<500'],
  },
};

export default function () {
  const res = http.get('https://test.k6.io');
  check(res, { 'status was 200': (r) => r.status == 200 });
  sleep(1);
}
