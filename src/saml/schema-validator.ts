import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import samlify from 'samlify';
import { validateXML } from 'xmllint-wasm';

const schemaDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@authenio/samlify-xmllint-wasm/package.json')), 'build/schemas');
const [protocolSchema, ...preload] = [
  'saml-schema-protocol-2.0.xsd',
  'datatypes.dtd',
  'saml-schema-assertion-2.0.xsd',
  'xmldsig-core-schema.xsd',
  'XMLSchema.dtd',
  'xenc-schema.xsd',
].map((fileName) => ({ fileName, contents: fs.readFileSync(path.join(schemaDir, fileName), 'utf8') }));

/**
 * Every SAML message samlify parses is checked against the SAML 2.0 protocol schema first
 * (xmllint compiled to WebAssembly: no Java, no native build), so a message of an unexpected
 * shape is refused before any field is read from it.
 */
export async function validateSamlMessage(xml: string): Promise<void> {
  const result = await validateXML({ xml: [{ fileName: 'message.xml', contents: xml }], schema: [protocolSchema!], preload });
  if (!result.valid) throw new Error(`SAML message is not schema-valid: ${result.errors.map((e) => e.message).join('; ')}`);
}

samlify.setSchemaValidator({ validate: validateSamlMessage });
