package org.peft4j.site;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.commonmark.Extension;
import org.commonmark.ext.gfm.tables.TablesExtension;
import org.commonmark.ext.heading.anchor.HeadingAnchorExtension;
import org.commonmark.node.Link;
import org.commonmark.node.Node;
import org.commonmark.parser.Parser;
import org.commonmark.renderer.html.AttributeProvider;
import org.commonmark.renderer.html.HtmlRenderer;

/**
 * Builds the documentation site: renders the guides (Markdown) to HTML pages that share a menu,
 * copies their images, turns the benchmark's {@code results.md} and {@code results.json} into a page
 * with bar charts (SVG), and links the Javadoc that the build writes to {@code apidocs/}.
 *
 * <p>Arguments: the guides directory, the benchmarks directory, the output directory.
 */
public final class SiteBuilder {
    /** The pages in menu order: file name (without .md) and menu title. */
    static final List<String[]> PAGES = List.of(
            new String[] {"index", "Overview"},
            new String[] {"methods", "LoRA, prefix and prompt"},
            new String[] {"djl", "DJL quick start"},
            new String[] {"tribuo", "Tribuo quick start"},
            new String[] {"cli", "The peft4j command"},
            new String[] {"format", "Adapter files and Python"},
            new String[] {"benchmark", "Benchmark"});

    private final List<Extension> extensions = List.of(TablesExtension.create(), HeadingAnchorExtension.create());
    private final Parser parser = Parser.builder().extensions(extensions).build();
    private final HtmlRenderer renderer = HtmlRenderer.builder().extensions(extensions)
            .attributeProviderFactory(context -> new MarkdownLinks()).build();

    /** Rewrites links between guides from {@code page.md} to {@code page.html}. */
    private static final class MarkdownLinks implements AttributeProvider {
        @Override
        public void setAttributes(Node node, String tagName, java.util.Map<String, String> attributes) {
            if (node instanceof Link) {
                String href = attributes.get("href");
                if (href != null && !href.contains("://") && href.matches("[^#]*\\.md(#.*)?")) {
                    attributes.put("href", href.replaceFirst("\\.md(#|$)", ".html$1"));
                }
            }
        }
    }

    /** Builds the site from the guides in {@code args[0]} and the benchmark in {@code args[1]} into {@code args[2]}. */
    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: SiteBuilder GUIDES_DIR BENCHMARKS_DIR OUTPUT_DIR");
        }
        new SiteBuilder().build(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]));
    }

    void build(Path guides, Path benchmarks, Path out) throws IOException {
        dropMissingFontImport(out.resolve("apidocs"));
        anchorConstantGroups(out.resolve("apidocs").resolve("constant-values.html"));
        Files.createDirectories(out.resolve("images"));
        try (Stream<Path> images = Files.list(guides.resolve("images"))) {
            for (Path image : (Iterable<Path>) images::iterator) {
                Files.copy(image, out.resolve("images").resolve(image.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        JsonNode results = new ObjectMapper().readTree(benchmarks.resolve("results.json").toFile());
        Charts.write(results, out.resolve("images"));
        for (String[] page : PAGES) {
            String markdown = Files.readString(guides.resolve(page[0] + ".md"), StandardCharsets.UTF_8);
            if (page[0].equals("benchmark")) {
                markdown = markdown.replace("{{results}}", Files.readString(benchmarks.resolve("results.md"))
                        .replaceFirst("(?s)^# [^\\n]*\\n", ""));
            }
            Files.writeString(out.resolve(page[0] + ".html"), page(page, renderer.render(parser.parse(markdown))),
                    StandardCharsets.UTF_8);
        }
    }

    /**
     * Debian's OpenJDK 17 ships javadoc without its DejaVu web fonts, yet the stylesheet it writes
     * still imports them; the import is dropped when the file is missing, so pages fall back to the
     * system's sans-serif font instead of requesting a file that does not exist.
     */
    private static void dropMissingFontImport(Path apidocs) throws IOException {
        Path stylesheet = apidocs.resolve("stylesheet.css");
        String fontCss = "resources/fonts/dejavu.css";
        if (Files.exists(stylesheet) && !Files.exists(apidocs.resolve(fontCss))) {
            String css = Files.readString(stylesheet, StandardCharsets.UTF_8);
            Files.writeString(stylesheet, css.replace("@import url('" + fontCss + "');", ""), StandardCharsets.UTF_8);
        }
    }

    /**
     * JDK 17's javadoc lists the package groups of its Constant Field Values page as links to
     * {@code #org.peft4j} but gives the headings only a title, no id; the id is added so the links
     * land on their heading.
     */
    private static void anchorConstantGroups(Path constants) throws IOException {
        if (Files.exists(constants)) {
            String html = Files.readString(constants, StandardCharsets.UTF_8);
            Files.writeString(constants, html.replaceAll("<h2 title=\"([^\"]+)\">", "<h2 id=\"$1\" title=\"$1\">"),
                    StandardCharsets.UTF_8);
        }
    }

    private static String page(String[] current, String body) {
        StringBuilder menu = new StringBuilder();
        for (String[] p : PAGES) {
            menu.append(String.format(Locale.ROOT, "<li><a href=\"%s.html\"%s>%s</a></li>", p[0],
                    p == current ? " class=\"current\"" : "", p[1]));
        }
        menu.append("<li><a href=\"apidocs/index.html\">API (Javadoc)</a></li>");
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                + "<title>peft4j: " + current[1] + "</title><style>" + STYLE + "</style></head><body>"
                + "<nav><a class=\"brand\" href=\"index.html\">peft4j</a><ul>" + menu + "</ul></nav>"
                + "<main>" + body + "</main></body></html>\n";
    }

    private static final String STYLE = String.join("",
            "body{margin:0;font:16px/1.55 system-ui,sans-serif;color:#1d2430;display:flex}",
            "nav{min-width:14rem;background:#f3f5f8;padding:1.2rem;min-height:100vh;box-sizing:border-box}",
            "nav ul{list-style:none;padding:0}nav li{margin:.35rem 0}nav a{color:#1d4ed8;text-decoration:none}",
            "nav a.current{font-weight:600;color:#1d2430}.brand{font-size:1.4rem;font-weight:700}",
            "main{max-width:52rem;padding:1.5rem 2.5rem}pre{background:#f6f8fa;padding:.8rem;overflow:auto}",
            "code{font-family:ui-monospace,monospace;font-size:.9em}table{border-collapse:collapse;margin:1rem 0}",
            "td,th{border:1px solid #d0d7de;padding:.3rem .6rem}img{max-width:100%}");
}
