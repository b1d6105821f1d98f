// Progressive enhancement only: every form works without this script.
// Asks before destructive admin actions; pages read the CSRF token from <meta name="csrf-token">.
document.addEventListener('submit', (event) => {
  const form = event.target;
  const button = form.querySelector('button.danger');
  if (button && form.action.includes('/admin/users/') && !window.confirm(button.textContent + '?')) event.preventDefault();
});
