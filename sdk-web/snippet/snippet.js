// The async snippet, pasted into a page's <head>; rollup minifies it to dist/snippet.min.js.
// It defines window.kimlik as a stub that records every call (and answers each one, returning
// itself, so nothing throws even when the bundle is blocked), then loads the bundle without
// blocking the page. The bundle replays the recorded calls in order. Replace the two strings.
((w, d, src, writeKey) => {
  w.kimlik = w.kimlik || [];
  const k = w.kimlik;
  if (k.init) return;
  for (const m of 'init track identify page group alias reset flush consent user use ready'.split(' ')) {
    k[m] = (...args) => {
      k.push([m, ...args]);
      return k;
    };
  }
  const s = d.createElement('script');
  s.async = true;
  s.src = src;
  s.setAttribute('data-write-key', writeKey);
  d.head.appendChild(s);
})(window, document, '__KIMLIK_SRC__', '__KIMLIK_WRITE_KEY__');
