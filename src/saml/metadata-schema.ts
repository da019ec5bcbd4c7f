import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';
import { projectRoot } from '../config.js';

/** The protocol, assertion, XML-DSig and XML-Enc schemas (and the DTDs XML-DSig's schema declares) as the validator package ships them. */
const shippedDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@authenio/samlify-xmllint-wasm')), 'schemas');
const SHIPPED = ['saml-schema-assertion-2.0.xsd', 'xmldsig-core-schema.xsd', 'xenc-schema.xsd', 'XMLSchema.dtd', 'datatypes.dtd'];
/** Not shipped by that package: the metadata schema and the xml: attributes it imports, kept in our own schemas/. */
const ownDir = path.join(projectRoot, 'schemas');

let loaded: { schema: XMLFileInfo; preload: XMLFileInfo[] } | undefined;

function schemas() {
  const read = (dir: string, fileName: string): XMLFileInfo => ({ fileName, contents: fs.readFileSync(path.join(dir, fileName), 'utf8') });
  loaded ??= {
    schema: read(ownDir, 'saml-schema-metadata-2.0.xsd'),
    preload: [...SHIPPED.map((f) => read(shippedDir, f)), read(ownDir, 'xml.xsd')],
  };
  return loaded;
}

/**
 * The schema errors of a metadata document against saml-schema-metadata-2.0.xsd (empty when valid).
 * Every import resolves to a preloaded file, so xmllint never reaches for the network. The caller
 * refuses DOCTYPEs first: this validator is not the place that keeps entities out.
 */
export async function metadataSchemaErrors(xml: string): Promise<string[]> {
  const { schema, preload } = schemas();
  const result = await validateXML({ xml: [{ fileName: 'metadata.xml', contents: xml }], schema: [schema], preload, extension: 'schema' });
  return result.valid ? [] : result.errors.map((e) => e.message.trim());
}
