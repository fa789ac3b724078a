// The k6 API of one VU, written against the native bridge `__sls` (script/src/native.rs).
// Evaluated once per VU before the script; the k6 modules re-export what it leaves
// on `globalThis.__k6`. Owns argument handling and object shapes; the bridge owns
// every effect (requests, sleeps, metrics, checks, logs, files).
(function () {
  'use strict';
  const n = globalThis.__sls;
  delete globalThis.__sls;

  const state = { group: '', initDone: false, vu: 0, iter: 0, scenario: '', iterInScenario: 0, tags: {} };
  const BUILTIN = new Set(['http_reqs', 'http_req_duration', 'http_req_failed', 'http_req_blocked',
    'http_req_connecting', 'http_req_tls_handshaking', 'http_req_sending', 'http_req_waiting',
    'http_req_receiving', 'iterations', 'iteration_duration', 'vus', 'vus_max', 'checks',
    'data_sent', 'data_received', 'group_duration', 'dropped_iterations']);

  const EMPTY = Object.freeze([]);
  // `[k, v, ...]`: the group (inside one), the run's tags, then `extra`'s
  // (never `skip`). The common case, no tags at all, allocates nothing.
  function flatTags(extra, skip) {
    if (state.group === '' && !state.hasTags && !extra) return EMPTY;
    const out = [];
    if (state.group !== '') out.push('group', state.group);
    if (state.hasTags) for (const k in state.tags) out.push(k, String(state.tags[k]));
    if (extra) for (const k in extra) {
      if (k === 'group' || k === skip) continue;
      out.push(k, String(extra[k]));
    }
    return out.length === 0 ? EMPTY : out;
  }

  // ---- k6 -------------------------------------------------------------------
  function check(value, sets, tags) {
    let all = true;
    const t = flatTags(tags);
    for (const name in sets) {
      const c = sets[name];
      const ok = !!(typeof c === 'function' ? c(value) : c);
      n.check(name, ok, t);
      if (!ok) all = false;
    }
    return all;
  }
  function group(name, fn) {
    if (!state.initDone) throw new Error('group() is not supported in the init context');
    if (String(name).indexOf('::') >= 0) throw new Error('group and check names may not contain \'::\'');
    const outer = state.group;
    state.group = outer + '::' + name;
    const began = n.now();
    try {
      return fn();
    } finally {
      const took = n.now() - began;
      n.metric('group_duration', 3, took, true, flatTags(null));
      state.group = outer;
    }
  }
  function sleep(seconds) {
    const s = Number(seconds);
    if (s > 0) n.sleep(s);
  }
  function fail(message) {
    throw new Error(message === undefined ? 'fail' : String(message));
  }
  function randomSeed(seed) { n.randomSeed(Number(seed)); }

  // ---- k6/metrics -------------------------------------------------------------
  const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
  const KINDS = ['counter', 'gauge', 'rate', 'trend'];
  // The custom metrics the init context declared, by name (read by `plan`).
  const declared = {};
  class Metric {
    constructor(name, kind, isTime) {
      if (state.initDone) throw new Error('metrics must be declared in the init context');
      if (!NAME.test(String(name))) throw new Error('invalid metric name `' + name + '`');
      if (BUILTIN.has(name)) throw new Error('`' + name + '` is a built-in metric');
      this.name = String(name);
      this._kind = kind;
      this._time = !!isTime;
      declared[this.name] = { kind: KINDS[kind], time: this._time };
    }
    add(value, tags) {
      if (!state.initDone) throw new Error('metrics can be added to only in VU code');
      let v;
      if (this._kind === 2) v = (value === true || (typeof value === 'number' && value !== 0) || (value && typeof value !== 'number')) ? 1 : 0;
      else v = Number(value);
      if (Number.isNaN(v)) throw new Error(this.name + ': value `' + value + '` is not a number');
      n.metric(this.name, this._kind, v, this._time, flatTags(tags));
      return true;
    }
  }
  class Counter extends Metric { constructor(name) { super(name, 0, false); } }
  class Gauge extends Metric { constructor(name, isTime) { super(name, 1, isTime); } }
  class Rate extends Metric { constructor(name) { super(name, 2, false); } }
  class Trend extends Metric { constructor(name, isTime) { super(name, 3, isTime); } }

  // ---- k6/http ------------------------------------------------------------------
  const DEFAULT_EXPECTED = [200, 399];
  let responseCallback = { ranges: DEFAULT_EXPECTED };
  function expectedStatuses(...specs) {
    const ranges = [];
    for (const s of specs) {
      if (typeof s === 'number') ranges.push(s, s);
      else if (s && typeof s === 'object' && 'min' in s && 'max' in s) ranges.push(Number(s.min), Number(s.max));
      else throw new Error('expectedStatuses: expected a status or {min, max}, got ' + JSON.stringify(s));
    }
    return { ranges };
  }
  function setResponseCallback(cb) {
    if (cb === null || cb === undefined) responseCallback = { ranges: [] };
    else if (cb && Array.isArray(cb.ranges)) responseCallback = cb;
    else throw new Error('setResponseCallback: only http.expectedStatuses(...) callbacks are supported');
  }
  const TYPES = { text: 0, none: 1, binary: 2 };

  // `raw` is the bridge's `[status, body, headers "K: v\n...", timings[7],
  // error, error_code, url, proto]`; what a script rarely reads is read from it
  // on first use.
  class Response {
    constructor(raw, args) {
      this.status = raw[0];
      this.body = raw[1];
      this._r = raw;
      this._a = args;
    }
    get headers() {
      const h = {};
      const text = this._r[2];
      if (text !== '') for (const line of text.split('\n')) {
        const i = line.indexOf(': ');
        const k = line.substring(0, i);
        const v = line.substring(i + 2);
        h[k] = (k in h) ? h[k] + ', ' + v : v;
      }
      Object.defineProperty(this, 'headers', { value: h, enumerable: true });
      return h;
    }
    get timings() {
      const t = this._r[3];
      const v = { duration: t[0], blocked: t[1], connecting: t[2], tls_handshaking: t[3], sending: t[4], waiting: t[5], receiving: t[6] };
      Object.defineProperty(this, 'timings', { value: v, enumerable: true });
      return v;
    }
    get error() { return this._r[4]; }
    get error_code() { return this._r[5]; }
    get url() { return this._r[6]; }
    get proto() { return this._r[7]; }
    get status_text() { return this.status ? String(this.status) : ''; }
    get cookies() { return {}; }
    get request() {
      const a = this._a;
      const headers = {};
      for (let i = 0; i < a[4].length; i += 2) headers[a[4][i]] = a[4][i + 1];
      return { method: a[0], url: a[1], body: a[3], headers };
    }
    json(selector) {
      if (this.body === null || this.body === undefined) throw new Error('the response has no body (responseType none or discardResponseBodies)');
      const v = JSON.parse(this.body);
      if (selector === undefined) return v;
      let cur = v;
      for (const part of String(selector).split('.')) {
        if (cur === null || cur === undefined) return undefined;
        const m = /^(.*?)(?:\[(\d+)\])?$/.exec(part);
        if (m[1] !== '') cur = cur[m[1]];
        if (m[2] !== undefined && cur !== undefined && cur !== null) cur = cur[Number(m[2])];
      }
      return cur;
    }
    html() { throw new Error('res.html() is not supported by sls-load'); }
    clickLink() { throw new Error('res.clickLink() is not supported by sls-load'); }
    submitForm() { throw new Error('res.submitForm() is not supported by sls-load'); }
  }

  function formEncode(obj) {
    const parts = [];
    for (const k in obj) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(obj[k])));
    return parts.join('&');
  }

  // The bridge's argument list for one request:
  // `[method, url, name, body, headers, tags, type, timeoutMs, ranges, redirects]`.
  function prepare(method, url, body, params) {
    if (!state.initDone) throw new Error('making requests in the init context is not supported');
    if (url !== null && typeof url === 'object' && url.url !== undefined) {
      if (!params || !params.tags || params.tags.name === undefined) {
        params = Object.assign({}, params || {});
        params.tags = Object.assign({ name: url.name }, (params && params.tags) || {});
      }
      url = url.url;
    }
    url = String(url);
    if (body === undefined) body = null;
    let headers = EMPTY;
    let hasType = false;
    if (params && params.headers) {
      headers = [];
      for (const k in params.headers) {
        headers.push(k, String(params.headers[k]));
        if (k.toLowerCase() === 'content-type') hasType = true;
      }
    }
    if (body !== null && typeof body === 'object') {
      if (body instanceof ArrayBuffer) {
        body = Array.from(new Uint8Array(body));
      } else {
        body = formEncode(body);
        if (!hasType) {
          if (headers === EMPTY) headers = [];
          headers.push('Content-Type', 'application/x-www-form-urlencoded');
        }
      }
    } else if (body !== null) {
      body = String(body);
    }
    if (!params) {
      return [method, url, url, body, headers, flatTags(null, 'name'), state.discard ? 1 : 0, -1, responseCallback.ranges, -1];
    }
    const tags = params.tags;
    const name = (tags && tags.name !== undefined) ? String(tags.name) : url;
    let cb = responseCallback;
    if ('responseCallback' in params) {
      cb = params.responseCallback === null ? { ranges: [] } : params.responseCallback;
      if (!cb || !Array.isArray(cb.ranges)) throw new Error('responseCallback: only http.expectedStatuses(...) callbacks are supported');
    }
    let type = state.discard ? 1 : 0;
    if (params.responseType !== undefined) {
      type = TYPES[params.responseType];
      if (type === undefined) throw new Error('responseType must be text, binary or none');
    }
    const timeout = params.timeout === undefined ? -1 : durationMs(params.timeout);
    const redirects = params.redirects === undefined ? -1 : Number(params.redirects);
    return [method, url, name, body, headers, flatTags(tags, 'name'), type, timeout, cb.ranges, redirects];
  }

  function durationMs(d) {
    if (typeof d === 'number') return d;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(d).trim());
    if (!m) throw new Error('invalid timeout `' + d + '`');
    const k = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
    return Number(m[1]) * k;
  }

  function request(method, url, body, params) {
    const args = prepare(String(method).toUpperCase(), url, body, params);
    return new Response(n.request(args), args);
  }
  function batch(reqs) {
    const list = [];
    const keys = [];
    const add = (key, r) => {
      let args;
      if (typeof r === 'string') args = prepare('GET', r, null, null);
      else if (Array.isArray(r)) args = prepare(String(r[0]).toUpperCase(), r[1], r[2], r[3]);
      else args = prepare(String(r.method || 'GET').toUpperCase(), r.url, r.body, r.params);
      keys.push(key);
      list.push(args);
    };
    if (Array.isArray(reqs)) reqs.forEach((r, i) => add(i, r));
    else for (const k in reqs) add(k, reqs[k]);
    const raws = n.batch(list);
    const out = Array.isArray(reqs) ? [] : {};
    raws.forEach((raw, i) => { out[keys[i]] = new Response(raw, list[i]); });
    return out;
  }
  function url(strings, ...values) {
    let name = '';
    let u = '';
    strings.forEach((s, i) => {
      name += s; u += s;
      if (i < values.length) { name += '${}'; u += values[i]; }
    });
    return { url: u, name };
  }
  const http = {
    request,
    get: (u, params) => request('GET', u, null, params),
    head: (u, params) => request('HEAD', u, null, params),
    del: (u, body, params) => request('DELETE', u, body, params),
    options: (u, body, params) => request('OPTIONS', u, body, params),
    post: (u, body, params) => request('POST', u, body, params),
    put: (u, body, params) => request('PUT', u, body, params),
    patch: (u, body, params) => request('PATCH', u, body, params),
    batch,
    expectedStatuses,
    setResponseCallback,
    url,
    cookieJar() { throw new Error('http.cookieJar() is not supported by sls-load'); },
    file(data, filename, contentType) { return { data, filename, content_type: contentType || 'application/octet-stream' }; },
    OCSP_STATUS_GOOD: 'good',
  };

  // ---- k6/data ------------------------------------------------------------------
  class SharedArray {
    constructor(name, fn) {
      if (state.initDone) throw new Error('SharedArray must be made in the init context');
      if (typeof fn !== 'function') throw new Error('SharedArray needs a function that returns an array');
      name = String(name);
      let len = n.sharedLen(name);
      if (len < 0) {
        const arr = fn();
        if (!Array.isArray(arr)) throw new Error('SharedArray: the function must return an array');
        len = n.sharedSet(name, arr.map((x) => JSON.stringify(x)));
      }
      const cache = new Map();
      const item = (i) => {
        if (!cache.has(i)) cache.set(i, JSON.parse(n.sharedItem(name, i)));
        return cache.get(i);
      };
      const target = [];
      return new Proxy(target, {
        get(t, p) {
          if (p === 'length') return len;
          if (typeof p === 'string' && /^\d+$/.test(p)) { const i = Number(p); return i < len ? item(i) : undefined; }
          if (p === Symbol.iterator) return function* () { for (let i = 0; i < len; i++) yield item(i); };
          const proto = Array.prototype[p];
          if (typeof proto === 'function') {
            return function (...a) { const all = []; for (let i = 0; i < len; i++) all.push(item(i)); return proto.apply(all, a); };
          }
          return undefined;
        },
        set() { throw new Error('SharedArray is read-only'); },
        has(t, p) { return typeof p === 'string' && /^\d+$/.test(p) && Number(p) < len; },
        ownKeys() { const k = []; for (let i = 0; i < len; i++) k.push(String(i)); k.push('length'); return k; },
        getOwnPropertyDescriptor(t, p) {
          if (p === 'length') return { value: len, writable: true, enumerable: false, configurable: false };
          if (typeof p === 'string' && /^\d+$/.test(p) && Number(p) < len) return { value: item(Number(p)), writable: false, enumerable: true, configurable: true };
          return undefined;
        },
      });
    }
  }

  // ---- k6/execution ---------------------------------------------------------------
  const execution = {
    get vu() {
      return { idInInstance: state.vu, idInTest: state.vu, iterationInInstance: state.iter, iterationInScenario: state.iterInScenario, tags: state.tags, metrics: { tags: state.tags } };
    },
    get scenario() {
      return { name: state.scenario, executor: state.executor || '', startTime: 0, progress: 0, iterationInInstance: state.iterInScenario, iterationInTest: state.iterInScenario };
    },
    get instance() { return { vusActive: 0, vusInitialized: 0, iterationsCompleted: 0, iterationsInterrupted: 0, currentTestRunDuration: 0 }; },
    test: {
      abort(reason) { n.abort(reason === undefined ? 'test aborted' : String(reason)); },
      get options() { return state.options || {}; },
    },
  };

  // ---- encoding ---------------------------------------------------------------------
  const encoding = {
    b64encode: (s, variant) => n.b64(0, s instanceof ArrayBuffer ? s : String(s), String(variant || 'std')),
    b64decode: (s, variant, format) => n.b64(format === 's' ? 1 : 2, String(s), String(variant || 'std')),
  };

  // ---- globals ------------------------------------------------------------------------
  const fmt = (args) => args.map((a) => (typeof a === 'string' ? a : (a instanceof Error ? String(a) : JSON.stringify(a)))).join(' ');
  globalThis.console = {
    log: (...a) => n.log(1, fmt(a)),
    info: (...a) => n.log(1, fmt(a)),
    debug: (...a) => n.log(0, fmt(a)),
    warn: (...a) => n.log(2, fmt(a)),
    error: (...a) => n.log(3, fmt(a)),
  };
  globalThis.open = function (path, mode) {
    if (state.initDone) throw new Error('open() is only available in the init context');
    return n.open(String(path), mode === 'b');
  };

  // Called by the VU (native.rs) around the script.
  globalThis.__k6 = {
    check, group, sleep, fail, randomSeed,
    Counter, Gauge, Rate, Trend,
    http, Response,
    SharedArray, execution, encoding,
    declared,
    // The VU starts iterations: the init context is over.
    begin(vu, iter, iterInScenario, scenario, executor) {
      state.initDone = true;
      state.vu = vu; state.iter = iter; state.iterInScenario = iterInScenario;
      state.scenario = scenario; state.executor = executor;
      state.group = '';
      globalThis.__VU = vu;
      globalThis.__ITER = iterInScenario;
    },
    configure(tags, discard, options) {
      state.tags = tags;
      state.hasTags = Object.keys(tags).length > 0;
      state.discard = discard;
      state.options = options;
    },
  };
})();
