/**
 * User-supplied values (identifiers, traits, event names) may hold bidi controls: an unclosed
 * U+202E reverses the rest of the line it sits in. Every value is shown in a <bdi>, which keeps
 * its direction to itself.
 */

/** A JSON value as the API gave it; a string in quotes, outside its <bdi> so they stay in place. */
export function JsonValue(props: { value: unknown }) {
  const { value } = props;
  return typeof value === 'string' ? (
    <>
      "<bdi>{value}</bdi>"
    </>
  ) : (
    <bdi>{JSON.stringify(value)}</bdi>
  );
}

/** A trait's value: a string as it is, anything else as JSON. */
export function TraitValue(props: { value: unknown }) {
  return <bdi>{typeof props.value === 'string' ? props.value : JSON.stringify(props.value)}</bdi>;
}

/** Values in a sentence, each isolated: "a and b", "a, b". */
export function List(props: { values: unknown[]; separator: string }) {
  return (
    <>
      {props.values.map((v, i) => (
        <>
          {i > 0 && props.separator}
          <bdi>{String(v)}</bdi>
        </>
      ))}
    </>
  );
}
