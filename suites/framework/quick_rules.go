package framework

// What a browser would do that the quick way (admin_fetch.go) must not
// skip: it fetches and parses pages instead of showing them, so whatever
// makes a browser refuse a page, a click or a submission has to be checked
// here by hand, or a broken SP passes quick and fails rendered
// (quick_fidelity_test.go breaks an SP each way and runs both). These are
// JavaScript helpers that adoptJS and submitQuick put before their code.

// pageRulesJS defines readAnswer(r): the answer r as a browser navigation
// would take it, {doc} or {notPage: message}.
//   - Content-Disposition: attachment is a download, not a page.
//   - A declared type other than HTML or XHTML shows as text (no elements);
//     no type is sniffed, and markup shows as a page.
//   - The bytes are decoded with the charset of the Content-Type, else of a
//     byte order mark, else of a <meta> in the first 1024 bytes (the HTML
//     prescan, simplified), else UTF-8.
//   - XHTML is parsed as XML: markup that is not well-formed is an error
//     page in a browser.
//   - DOMParser parses with scripting off, so <noscript> content would be
//     elements; a person's browser runs scripts and shows none of it.
//   - The page's Content-Security-Policy (header and <meta>) is kept for
//     submitRulesJS (form-action).
const pageRulesJS = `const readAnswer = async (r) => {
	if (/^\s*attachment/i.test(r.headers.get('Content-Disposition') || '')) {
		return {notPage: 'a download (Content-Disposition: attachment), not a page'};
	}
	const type = (r.headers.get('Content-Type') || '').toLowerCase();
	const xml = /^\s*application\/xhtml\+xml\s*(;|$)/.test(type);
	if (type.trim() !== '' && !xml && !/^\s*text\/html\s*(;|$)/.test(type)) {
		return {notPage: 'not an HTML page: Content-Type ' + type};
	}
	const bytes = new Uint8Array(await r.arrayBuffer());
	let cs = (/;\s*charset\s*=\s*"?([^";\s]+)/.exec(type) || [])[1] || '';
	if (!cs && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF) cs = 'utf-8';
	if (!cs && bytes[0] === 0xFE && bytes[1] === 0xFF) cs = 'utf-16be';
	if (!cs && bytes[0] === 0xFF && bytes[1] === 0xFE) cs = 'utf-16le';
	if (!cs && !xml) {
		const head = new TextDecoder('windows-1252').decode(bytes.subarray(0, 1024));
		cs = (/<meta\b[^>]*?charset\s*=\s*["']?\s*([-\w.:]+)/i.exec(head) || [])[1] || '';
	}
	let text;
	try { text = new TextDecoder(cs || 'utf-8').decode(bytes); }
	catch (e) { return {notPage: 'charset ' + cs + ': ' + e}; }
	const doc = new DOMParser().parseFromString(text, xml ? 'application/xhtml+xml' : 'text/html');
	if (xml && doc.getElementsByTagName('parsererror').length) {
		return {notPage: 'XHTML that is not well-formed XML: ' + doc.getElementsByTagName('parsererror')[0].textContent.trim().slice(0, 200)};
	}
	doc.querySelectorAll('noscript').forEach(n => n.remove());
	const csp = [r.headers.get('Content-Security-Policy') || ''];
	doc.querySelectorAll('meta[http-equiv]').forEach(m => {
		if (m.getAttribute('http-equiv').toLowerCase() === 'content-security-policy') csp.push(m.getAttribute('content') || '');
	});
	return {doc, csp: csp.filter(Boolean).join(', ')};
};`

// submitRulesJS defines whySubmitFails(form, sub, action, pageURL, csp):
// why a person pressing sub could not send form to action, or ”.
//   - sub, or an ancestor, is disabled, hidden (the hidden attribute or an
//     inline display: none / visibility: hidden) or inert: it cannot be
//     pressed (the render way's Click finds no visible, enabled button).
//     Style sheets are not applied here: hidden by a rule still counts as
//     shown (the limit README names; HMPCONFORM_RENDER=all has none).
//   - method=dialog closes a dialog and sends nothing.
//   - a target other than the page itself opens the answer in another
//     window, where the admin would not see it.
//   - the page's Content-Security-Policy form-action does not allow action.
//
// whyBlocked(el) is the first half (disabled, or not shown), for fields too.
const submitRulesJS = `const whyHidden = (el) => {
	for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
		if (n.hasAttribute('hidden')) return 'hidden';
		if (n.hasAttribute('inert')) return 'inert';
		if (n.style && n.style.display === 'none') return 'display: none';
		if (n.style && n.style.visibility === 'hidden') return 'visibility: hidden';
	}
	return '';
};
const formActionAllows = (csp, action, pageURL) => {
	const page = new URL(pageURL);
	const defaultPort = u => u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
	const matches = (src) => {
		src = src.trim();
		const low = src.toLowerCase();
		if (low === "'none'") return false;
		if (low === "'self'") return action.origin === page.origin;
		if (low === '*') return /^(https?|wss?):$/.test(action.protocol);
		if (/^[a-z][a-z0-9+.-]*:$/.test(low)) return action.protocol === low || (low === 'http:' && action.protocol === 'https:');
		const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*|(?:\*\.)?[^:/]+)(?::(\d+|\*))?(\/.*)?$/.exec(low);
		if (!m) return false;
		const [, scheme, host, port, path] = m;
		if (scheme ? !(action.protocol === scheme + ':' || (scheme === 'http' && action.protocol === 'https:'))
			: !(action.protocol === page.protocol || (page.protocol === 'http:' && action.protocol === 'https:'))) return false;
		const h = action.hostname.toLowerCase();
		if (host.startsWith('*.') ? !h.endsWith(host.slice(1)) : host !== '*' && h !== host) return false;
		if (port !== '*' && (port || (scheme ? (scheme === 'https' ? '443' : '80') : defaultPort(page))) !== defaultPort(action)) return false;
		if (path) return path.endsWith('/') ? action.pathname.startsWith(path) : action.pathname === path;
		return true;
	};
	for (const policy of csp.split(',')) {
		for (const directive of policy.split(';')) {
			const [name, ...sources] = directive.trim().split(/\s+/);
			if ((name || '').toLowerCase() !== 'form-action') continue;
			if (!sources.some(matches)) return false;
		}
	}
	return true;
};
const whyBlocked = (el) => {
	if (el.matches(':disabled')) return 'disabled';
	const hidden = whyHidden(el);
	return hidden ? 'not shown (' + hidden + ')' : '';
};
const whySubmitFails = (form, sub, action, pageURL, csp) => {
	const blocked = whyBlocked(sub);
	if (blocked) return blocked + ': a person cannot press it';
	const attr = (name) => sub.hasAttribute('form' + name) ? sub.getAttribute('form' + name) : form.getAttribute(name);
	if ((attr('method') || '').trim().toLowerCase() === 'dialog') return 'method=dialog: the form closes a dialog and sends nothing';
	const base = form.ownerDocument.querySelector('base[target]');
	const target = (attr('target') ?? (base ? base.getAttribute('target') : '') ?? '').trim().toLowerCase();
	if (!['', '_self', '_parent', '_top'].includes(target)) return 'target=' + target + ': the answer opens in another window';
	if (csp && !formActionAllows(csp, action, pageURL)) return 'the page\'s Content-Security-Policy form-action forbids ' + action.href;
	return '';
};`
