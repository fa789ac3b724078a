// The second k6 script of the seed documents: a custom error Rate with its
// threshold, groups, a JSON POST and a k6 Cloud load-zone distribution.
// `sls-load run samples/k6/seed-crocodiles.js -e BASE_URL=http://127.0.0.1:8080`
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Rate } from 'k6/metrics';

export const errorRate = new Rate('errors');

export const options = {
  stages: [
    { duration: '2m', target: 10000 },
    { duration: '5m', target: 100000 },
    { duration: '2m', target: 0 },
  ],
  thresholds: {
    errors: ['rate<0.1'],
    http_req_duration: ['p(95)<2000'],
  },
  ext: {
    loadimpact: {
      distribution: {
        ashburn: { loadZone: 'amazon:us:ashburn', percent: 30 },
        dublin: { loadZone: 'amazon:ie:dublin', percent: 25 },
        singapore: { loadZone: 'amazon:sg:singapore', percent: 20 },
        sydney: { loadZone: 'amazon:au:sydney', percent: 25 },
      },
    },
  },
};

const BASE_URL = __ENV.BASE_URL || 'https://test-api.k6.io';

export default function () {
  group('public crocodiles', function () {
    const res = http.get(`${BASE_URL}/public/crocodiles/`);
    const ok = check(res, {
      'status is 200': (r) => r.status === 200,
    });
    errorRate.add(!ok);
  });

  group('login', function () {
    const payload = JSON.stringify({ username: 'test_user', password: 'supersecure' });
    const params = { headers: { 'Content-Type': 'application/json' } };
    const res = http.post(`${BASE_URL}/auth/token/login/`, payload, params);
    const ok = check(res, {
      'logged in': (r) => r.status === 200 && r.json('access') !== undefined,
    });
    errorRate.add(!ok);
  });

  sleep(1);
}
