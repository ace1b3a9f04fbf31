/* global document, navigator, window */
// Progressive enhancement only: copy buttons. Every page works without this file.
(function () {
  'use strict';

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function announce(button, label) {
    button.textContent = label;
    button.setAttribute('data-copied', '');
    window.setTimeout(function () {
      button.textContent = 'Copy';
      button.removeAttribute('data-copied');
    }, 1600);
  }

  function enable() {
    var buttons = document.querySelectorAll('button[data-copy]');
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.hidden = false;
      button.setAttribute('aria-live', 'polite');
      button.addEventListener('click', function (event) {
        var target = event.currentTarget;
        copy(target.getAttribute('data-copy') || '').then(
          function () {
            announce(target, 'Copied');
          },
          function () {
            announce(target, 'Press Ctrl+C');
          },
        );
      });
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', enable);
  else enable();
})();
