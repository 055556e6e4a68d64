// A tiny client-side router. Navigation uses history.pushState, which the SDK watches: every route
// change is a page view without a single analytics call here. Login and logout are identify/reset.
const kimlik = window.kimlik;
const view = document.getElementById('view');

const routes = {
  '/': () => '<h1>Home</h1><p>Welcome.</p>',
  '/pricing': () => '<h1>Pricing</h1><p>Pro: 10 €/month</p><button id="upgrade" type="button">Upgrade to Pro</button>',
  '/account': () => {
    const email = sessionStorage.getItem('email');
    return email
      ? `<h1>Account</h1><p id="who">Logged in as ${email}</p><button id="logout" type="button">Log out</button>`
      : '<h1>Account</h1><form id="login"><input id="email" type="email" value="ada@example.com" required> <button type="submit">Log in</button></form>';
  },
};

function render() {
  view.innerHTML = (routes[location.pathname] ?? (() => '<h1>Not found</h1>'))();
}

function navigate(path) {
  history.pushState({}, '', path);
  render();
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-link]');
  if (link) {
    event.preventDefault();
    navigate(link.getAttribute('href'));
  }
  if (event.target.id === 'upgrade') kimlik.track('Plan Upgraded', { plan: 'pro' });
  if (event.target.id === 'logout') {
    kimlik.track('Logged Out');
    kimlik.reset();
    sessionStorage.removeItem('email');
    navigate('/');
  }
});

document.addEventListener('submit', (event) => {
  if (event.target.id !== 'login') return;
  event.preventDefault();
  const email = document.getElementById('email').value;
  sessionStorage.setItem('email', email);
  kimlik.identify(email.split('@')[0], { email });
  kimlik.track('Logged In');
  navigate('/account');
});

addEventListener('popstate', render);
render();
