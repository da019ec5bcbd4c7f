import { deviceOf, locationOf } from '../../src/admin/session-view.js';
import { loadGeoIp, type GeoLocator } from '../../src/risk/geoip.js';
import { USER_AGENTS } from '../helpers/sessions.js';

let geo: GeoLocator;
beforeAll(async () => {
  geo = await loadGeoIp();
}, 30_000);

test('a device is named by browser and operating system, and only by what can be read', () => {
  expect(deviceOf(USER_AGENTS.chromeMac)).toBe('Chrome on macOS');
  expect(deviceOf(USER_AGENTS.firefoxWindows)).toBe('Firefox on Windows');
  expect(
    deviceOf('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1'),
  ).toBe('Safari on iOS');
  for (const ua of ['', '   ', '\u0000\u0001', 'x'.repeat(5000), '12345']) expect(deviceOf(ua)).toBe('Unknown device');
});

test('a place is "City, Country" from the offline database, "Unknown" where it places nothing', () => {
  expect(locationOf(geo, '81.2.69.160')).toBe('London, United Kingdom');
  expect(locationOf(geo, '::ffff:81.2.69.160')).toBe('London, United Kingdom');
  for (const ip of ['127.0.0.1', '::1', '10.1.2.3', '192.168.0.1', 'fe80::1', 'unknown', '', '999.1.1.1', '1.2.3.4:80'])
    expect(locationOf(geo, ip)).toBe('Unknown');
});
