// @ts-check
/**
 * datacube-tracker: records a mini-program's opens, page views and shares and sends them to datacube's
 * `POST /v1/collect`. Plain JavaScript for WeChat's runtime (no Node API), typed with miniprogram-api-typings.
 * Call `createTracker` in app.js before `App()`; it wraps the global `App`, `Page` and `Component` constructors (and
 * `Behavior`, so a page handler a behavior gives is seen).
 */
'use strict';

var SESSION_GAP = 30 * 60 * 1000;
var MAX_BACKOFF = 5 * 60 * 1000;
var MAX_BODY = 60000;
var ID = /^[A-Za-z0-9_-]{1,128}$/;

/** @typedef {Record<string, any>} Ev */
/** @typedef {{ q?: Ev[], anon?: string, openid?: string, dropped?: number }} Saved */

/** @param {number} n */
function rand(n) {
  var s = '';
  while (s.length < n) s += Math.random().toString(36).slice(2);
  return s.slice(0, n);
}

/** @param {any} v @param {number} max */
function text(v, max) {
  return typeof v === 'string' && v ? v.slice(0, max) : undefined;
}

/**
 * Calls `fn` before the page's or app's own handler `name` (never letting the tracker break it) and returns what
 * the handler returns.
 * @param {Record<string, any>} o @param {string} name @param {(this: any, ...a: any[]) => void} fn
 */
function wrap(o, name, fn) {
  var own = o[name];
  o[name] = function () {
    try {
      fn.apply(this, /** @type {any} */ (arguments));
    } catch (e) {
      // the tracker must never break the page
    }
    return typeof own === 'function' ? own.apply(this, arguments) : undefined;
  };
}

/**
 * Brand, model and platform of the phone: wx.getDeviceInfo / wx.getAppBaseInfo, or wx.getSystemInfoSync on old base
 * libraries.
 * @param {WechatMiniprogram.Wx} wx
 */
function deviceFields(wx) {
  /** @type {Record<string, any>} */
  var d = {};
  try {
    if (wx.getDeviceInfo) {
      d = wx.getDeviceInfo() || {};
      if (!d.platform && wx.getAppBaseInfo) d.platform = /** @type {any} */ (wx.getAppBaseInfo()).platform;
    } else d = wx.getSystemInfoSync() || {};
  } catch (e) {
    try {
      d = wx.getSystemInfoSync() || {};
    } catch (e2) {
      d = {};
    }
  }
  /** @type {Ev} */
  var out = {};
  if (text(d.brand, 64)) out.brand = text(d.brand, 64);
  if (text(d.model, 64)) out.model = text(d.model, 64);
  if (text(d.platform, 32)) out.platform = text(d.platform, 32);
  return out;
}

/**
 * @param {{ endpoint: string, appid: string, batchSize?: number, flushIntervalMs?: number, maxQueued?: number }} options
 */
function createTracker(options) {
  if (!options || typeof options.endpoint !== 'string' || typeof options.appid !== 'string') {
    throw new TypeError('createTracker needs { endpoint, appid }');
  }
  var appid = options.appid;
  var url = options.endpoint.replace(/\/+$/, '') + '/v1/collect?appid=' + encodeURIComponent(appid);
  var batchSize = Math.max(1, Math.min(100, Math.floor(options.batchSize || 20)));
  var maxBatch = batchSize;
  var flushMs = Math.max(0, options.flushIntervalMs === undefined ? 10000 : options.flushIntervalMs);
  var maxQueued = Math.max(1, Math.floor(options.maxQueued || 1000));
  var key = 'datacube_tracker_' + appid;
  var api = wx;

  /** @type {Saved} */
  var saved = {};
  try {
    saved = api.getStorageSync(key) || {};
  } catch (e) {
    saved = {};
  }
  /** @type {Ev[]} */
  var queue = Array.isArray(saved.q) ? saved.q : [];
  var anon = saved.anon || 'anon_' + rand(23);
  var openid = saved.openid || '';
  var dropped = saved.dropped || 0;
  var sent = 0;
  var device = deviceFields(api);
  var session = '';
  /** @type {number | undefined} */
  var scene;
  var hiddenAt = 0;
  var justLaunched = false;
  var seq = 0;
  var sending = false;
  /** A send was asked for while a request was under way: send again as soon as it ends. */
  var again = false;
  var online = true;
  var backoff = 0;
  var retryAt = 0;
  var rateUntil = 0;
  /** @type {any} */
  var timer = null;
  var timerAt = 0;

  function save() {
    try {
      api.setStorageSync(key, { q: queue, anon: anon, openid: openid, dropped: dropped });
    } catch (e) {
      // storage full: events stay in memory
    }
  }

  /** @param {number} [ms] */
  function schedule(ms) {
    var delay = ms === undefined ? flushMs : Math.max(0, ms);
    var now = Date.now();
    var at = now + delay;
    if (timer !== null) {
      // Keep a sooner timer, unless the clock jumped past it (the phone's time was changed).
      if (timerAt <= at && timerAt >= now) return;
      clearTimeout(timer);
    }
    timerAt = at;
    timer = setTimeout(function () {
      timer = null;
      send();
    }, delay);
  }

  /** @param {string} type @param {Ev} [fields] */
  function record(type, fields) {
    if (!session) session = Date.now().toString(36) + rand(6);
    /** @type {Ev} */
    var e = { event_id: rand(12) + Date.now().toString(36) + (seq++).toString(36), openid: openid || anon, time: Date.now(), type: type, session: session };
    if (scene !== undefined) e.scene = scene;
    for (var d in device) e[d] = device[d];
    if (fields) for (var f in fields) if (fields[f] !== undefined) e[f] = fields[f];
    queue.push(e);
    while (queue.length > maxQueued) {
      queue.shift();
      dropped++;
    }
    save();
    if (queue.length >= batchSize) schedule(0);
    else schedule();
  }

  /** @param {Ev[]} batch */
  function remove(batch) {
    /** @type {Record<string, boolean>} */
    var ids = {};
    for (var i = 0; i < batch.length; i++) ids[batch[i].event_id] = true;
    queue = queue.filter(function (e) {
      return !ids[e.event_id];
    });
    save();
  }

  function retryLater() {
    backoff = backoff ? Math.min(MAX_BACKOFF, backoff * 2) : 1000;
    retryAt = Date.now() + backoff * (0.75 + Math.random() / 4);
    schedule(retryAt - Date.now());
  }

  function send() {
    if (sending) {
      again = true;
      return;
    }
    if (queue.length === 0) return;
    var wait = Math.max(rateUntil, retryAt) - Date.now();
    if (wait > 0) return schedule(wait);
    if (!online) return;
    var batch = queue.slice(0, maxBatch);
    while (batch.length > 1 && JSON.stringify(batch).length > MAX_BODY) batch = batch.slice(0, batch.length >> 1);
    sending = true;
    api.request({
      url: url,
      method: 'POST',
      header: { 'content-type': 'application/json' },
      data: { events: batch, sent_at: Date.now() },
      success: function (res) {
        sending = false;
        /** @type {any} */
        var body = res.data;
        if (typeof body === 'string') {
          // wx.request gives the text when it did not parse it (dataType other than json, or a stand-in runtime)
          try {
            body = JSON.parse(body);
          } catch (e) {
            body = {};
          }
        }
        if (!body || typeof body !== 'object') body = {};
        var code = body.errcode;
        if (res.statusCode === 200 && code === 0) {
          backoff = 0;
          retryAt = 0;
          sent += batch.length;
          remove(batch);
          if (queue.length >= batchSize || again) schedule(0);
          else if (queue.length) schedule();
          again = false;
          return;
        }
        again = false;
        if (res.statusCode === 429 || code === 45011) {
          var h = /** @type {Record<string, any>} */ (res.header || {});
          var after = Number(h['Retry-After'] || h['retry-after'] || 1);
          rateUntil = Date.now() + (after > 0 ? after : 1) * 1000;
          return schedule(rateUntil - Date.now());
        }
        if (code === 45002 && batch.length > 1) {
          maxBatch = Math.max(1, batch.length >> 1);
          return schedule(0);
        }
        if (res.statusCode === 200 && (code === 47001 || code === 45002 || code === 44002)) {
          // Refused as malformed: sending it again would be refused again.
          dropped += batch.length;
          remove(batch);
          return schedule(0);
        }
        retryLater();
      },
      fail: function () {
        sending = false;
        again = false;
        retryLater();
      },
    });
  }

  /** @param {any} o */
  function opened(o) {
    o = o || {};
    scene = typeof o.scene === 'number' ? o.scene : scene;
    if (!session || (hiddenAt && Date.now() - hiddenAt > SESSION_GAP)) session = Date.now().toString(36) + rand(6);
    hiddenAt = 0;
    record('open', { page: text(o.path, 1024) });
  }

  var ownApp = typeof App === 'function' ? App : null;
  if (ownApp) {
    var baseApp = ownApp;
    App = /** @type {any} */ (
      /** @param {Record<string, any>} o */
      function (o) {
        o = o || {};
        wrap(o, 'onLaunch', function (opts) {
          session = '';
          opened(opts);
          justLaunched = true;
        });
        wrap(o, 'onShow', function (opts) {
          if (justLaunched) justLaunched = false;
          else opened(opts);
        });
        wrap(o, 'onHide', function () {
          hiddenAt = Date.now();
          justLaunched = false;
          send();
        });
        return baseApp(/** @type {any} */ (o));
      }
    );
  }

  /**
   * The page handlers: a `visit` (with its stay) from onShow to onHide/onUnload, a `share` when onShareAppMessage
   * runs. A page is an instance with a route; a plain component (no route) records nothing, even if it has methods
   * of these names. The `__dcShownAt` mark makes a show/hide pair one visit however many wrappers run.
   */
  /** @param {any} self @returns {string | undefined} */
  var routeOf = function (self) {
    var r = self && (self.route || self.__route__);
    return typeof r === 'string' && r ? r : undefined;
  };
  /**
   * Where an instance is: its route. An instance Page() made is a page even without one (a stand-in runtime): then
   * the top of getCurrentPages() when it is shown, else ''. Undefined: not a page.
   * @param {any} self @param {boolean} page @returns {string | undefined}
   */
  var where = function (self, page) {
    var r = routeOf(self);
    if (r || !page) return r;
    try {
      var ps = getCurrentPages();
      r = routeOf(ps[ps.length - 1]);
    } catch (e) {
      // no getCurrentPages
    }
    return r || '';
  };
  /**
   * The show, hide/unload and share handlers, for Page() instances (`page`) or Component()/Behavior() ones.
   * @param {boolean} page @returns {((this: any) => void)[]}
   */
  var handlers = function (page) {
    return [
      function () {
        var r = where(this, page);
        if (r === undefined) return;
        this.__dcShownAt = Date.now();
        this.__dcRoute = r;
      },
      function () {
        if (!this.__dcShownAt) return;
        var stay = Math.round((Date.now() - this.__dcShownAt) / 100) / 10;
        this.__dcShownAt = 0;
        record('visit', { page: routeOf(this) || this.__dcRoute || undefined, stay: stay });
      },
      function () {
        var r = where(this, page);
        if (r !== undefined) record('share', { page: r || undefined });
      },
    ];
  };
  var pageHandlers = handlers(true);
  var componentHandlers = handlers(false);
  var LIFE = ['onShow', 'onHide', 'onUnload'];
  /**
   * Behaviors seen by `Behavior()`: their id and the page handlers they (or the behaviors they use) define.
   * @type {{ id: any, has: Record<string, boolean> }[]}
   */
  var known = [];
  /** Whether one of `list` (a behaviors field) gives the handler `name`. @param {any} list @param {string} name */
  var inherited = function (list, name) {
    if (!Array.isArray(list)) return false;
    for (var i = 0; i < known.length; i++) if (list.indexOf(known[i].id) >= 0 && known[i].has[name]) return true;
    return false;
  };
  /**
   * Wraps the page handlers of `o` (a Page's options, a Component's or a Behavior's `methods`). Absent show/hide/unload
   * handlers are created when `create` says so; onShareAppMessage only when present (defining it turns sharing on).
   * @param {Record<string, any>} o @param {(name: string) => boolean} create @param {((this: any) => void)[]} h
   */
  var hook = function (o, create, h) {
    for (var i = 0; i < LIFE.length; i++) {
      var n = LIFE[i];
      if (typeof o[n] === 'function' || create(n)) wrap(o, n, /** @type {any} */ (h[i ? 1 : 0]));
    }
    if (typeof o.onShareAppMessage === 'function') wrap(o, 'onShareAppMessage', /** @type {any} */ (h[2]));
  };

  var ownPage = typeof Page === 'function' ? Page : null;
  if (ownPage) {
    var basePage = ownPage;
    Page = /** @type {any} */ (
      /** @param {Record<string, any>} o */
      function (o) {
        o = o || {};
        try {
          hook(
            o,
            function () {
              return true;
            },
            pageHandlers,
          );
        } catch (e) {
          // the tracker must never break the page
        }
        return basePage(/** @type {any} */ (o));
      }
    );
  }

  // A page built with Component() has its page handlers in `methods` (WeChat: 使用 Component 构造器构造页面). Its
  // own method hides a behavior's method of the same name, so a handler is not created where a behavior gives it.
  var ownBehavior = typeof Behavior === 'function' ? Behavior : null;
  if (ownBehavior) {
    var baseBehavior = ownBehavior;
    Behavior = /** @type {any} */ (
      /** @param {Record<string, any>} o */
      function (o) {
        /** @type {Record<string, boolean>} */
        var has = {};
        try {
          var m = o && o.methods;
          for (var i = 0; i < LIFE.length; i++) {
            var n = LIFE[i];
            has[n] = !!(m && typeof m[n] === 'function') || inherited(o && o.behaviors, n);
          }
          if (m && typeof m === 'object') {
            hook(
              m,
              function () {
                return false;
              },
              componentHandlers,
            );
          }
        } catch (e) {
          // the tracker must never break a behavior
        }
        var id = baseBehavior(/** @type {any} */ (o));
        known.push({ id: id, has: has });
        return id;
      }
    );
  }

  var ownComponent = typeof Component === 'function' ? Component : null;
  if (ownComponent) {
    var baseComponent = ownComponent;
    Component = /** @type {any} */ (
      /** @param {Record<string, any>} o */
      function (o) {
        o = o || {};
        try {
          if (!o.methods) o.methods = {};
          if (typeof o.methods === 'object') {
            hook(
              o.methods,
              function (n) {
                return !inherited(o.behaviors, n);
              },
              componentHandlers,
            );
          }
        } catch (e) {
          // the tracker must never break a component
        }
        return baseComponent(/** @type {any} */ (o));
      }
    );
  }

  try {
    api.onNetworkStatusChange(function (r) {
      online = r.isConnected;
      if (online) {
        backoff = 0;
        retryAt = 0;
        send();
      }
    });
    api.getNetworkType({
      success: function (r) {
        online = r.networkType !== 'none';
      },
    });
  } catch (e) {
    // no network API: assume online
  }

  if (queue.length) schedule(0);

  return {
    /** @param {string} type @param {Ev} [fields] */
    track: function (type, fields) {
      record(String(type), fields);
    },
    flush: function () {
      retryAt = 0;
      backoff = 0;
      send();
    },
    /** @param {string} id */
    setOpenid: function (id) {
      if (typeof id !== 'string' || !ID.test(id)) throw new TypeError('setOpenid: an openid is 1-128 characters of [A-Za-z0-9_-]');
      openid = id;
      for (var i = 0; i < queue.length; i++) if (queue[i].openid === anon) queue[i].openid = id;
      save();
    },
    stats: function () {
      return { queued: queue.length, dropped: dropped, sent: sent, sending: sending };
    },
  };
}

module.exports = { createTracker: createTracker };
