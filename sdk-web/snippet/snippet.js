// The async snippet, pasted into a page's <head>; rollup minifies it to dist/snippet.min.js.
// It defines window.kimlik as a stub that records every call (and answers each one, returning
// itself, so nothing throws even when the bundle is blocked; ready() and flush() return a promise
// the SDK resolves, or the failed load does, which then calls their callback too), then loads the
// bundle without blocking the page.
// The bundle replays the recorded calls in order. Replace the two strings.
((w, d, src, writeKey) => {
  let k = w.kimlik;
  // The SDK, or this stub from the snippet pasted twice.
  if (k?.init) return;
  // Anything else is not ours: browsers expose an element with id="kimlik" as window.kimlik.
  if (!Array.isArray(k)) w.kimlik = k = [];
  for (const m of 'init track identify page group alias reset flush consent user use ready'.split(' ')) {
    // Each call keeps its time, URL and title: the bundle replays it later, maybe on another route.
    k[m] = (...args) => {
      const call = Object.assign([m, ...args], { t: Date.now(), u: location.href, n: d.title });
      k.push(call);
      if (m !== 'ready' && m !== 'flush') return k;
      const done = new Promise((resolve) => {
        if (k.f) resolve();
        else call.r = resolve;
      });
      // The bundle calls the callback it replays; a failed load is the stub's to call it. As in the
      // SDK, anything but a function is ignored (`.call` is what only functions have, in fewer
      // bytes than typeof), and a callback that throws is logged, not left to the page as an
      // unhandled rejection.
      void done.then(() => k.f && args[0]?.call?.()).catch(console.error);
      return done;
    };
  }
  const s = d.createElement('script');
  s.async = true;
  s.src = src;
  s.setAttribute('data-write-key', writeKey);
  // Blocked or failed: nothing will resolve them otherwise (a page awaiting flush() must go on).
  s.onerror = () => {
    k.f = 1;
    for (const call of k) call.r?.();
  };
  d.head.appendChild(s);
})(window, document, '__KIMLIK_SRC__', '__KIMLIK_WRITE_KEY__');
