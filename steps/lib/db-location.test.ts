import { describe, expect, it } from 'vitest';
import { databaseLocation, parseDatabaseUrl, redactDatabaseSecrets, UNPARSEABLE_LOCATION } from './db-location.ts';
import { ForgeError } from './errors.ts';

describe('database locations', () => {
  it('prints host, port and database only', () => {
    expect(databaseLocation('postgresql://step:pw@db.example.test:6432/records?sslmode=require&password=other')).toBe('postgresql://db.example.test:6432/records');
    expect(databaseLocation('postgres://step@db.example.test/records')).toBe('postgresql://db.example.test:5432/records');
    expect(databaseLocation('postgresql://step:p%2Fw@[::1]:5433/records')).toBe('postgresql://[::1]:5433/records');
    expect(databaseLocation('postgresql:///records?host=/run/postgresql')).toBe('postgresql:///run/postgresql:5432/records');
    expect(databaseLocation('postgresql://step@db.example.test')).toBe('postgresql://db.example.test:5432/step');
  });

  it.each([
    ['unencoded / in the password', 'postgresql://step:ab/cdS3cret@db.example.test/records'],
    ['unencoded / after digits (parses as a port)', 'postgresql://step:12/S3cret@db.example.test/records'],
    ['unencoded ?', 'postgresql://step:12?S3cret@db.example.test/records'],
    ['unencoded #', 'postgresql://step:S3#cret@db.example.test/records'],
    ['not a URL', 'host=db.example.test password=S3cret'],
    ['another scheme', 'mysql://step:S3cret@db.example.test/records'],
    ['two path segments', 'postgresql://db.example.test/records/S3cret'],
  ])('refuses %s without echoing it', (_why, url) => {
    let error: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ForgeError);
    expect((error as ForgeError).code).toBe('INVALID_ARGS');
    expect((error as ForgeError).format()).not.toMatch(/S3|cret|step|db\.example/);
    expect(databaseLocation(url)).toBe(UNPARSEABLE_LOCATION);
  });

  it('scrubs the password, raw and decoded, and query secrets from driver messages', () => {
    const url = 'postgresql://step:p%40ss%2Fword@db.example.test/records?sslpassword=KeyPhrase';
    expect(redactDatabaseSecrets(`failed for p@ss/word, p%40ss%2Fword and KeyPhrase (${url})`, url)).toBe('failed for [redacted], [redacted] and [redacted] ([redacted])');
    expect(redactDatabaseSecrets('no secret here', undefined)).toBe('no secret here');
    expect(redactDatabaseSecrets('bad pieces ab and cdS3cret', 'postgresql://step:ab/cdS3cret@h/d')).toBe('bad pieces ab and [redacted]');
  });
});
