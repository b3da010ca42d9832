package org.peft4j.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every public type of every module has a Javadoc comment (doclint, run by the site's Javadoc
 * build, checks everything else but is told to skip missing comments on members).
 */
class PublicTypesDocumentedTest {
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^\\s*public\\s+(?:(?:static|final|abstract|sealed)\\s+)*(?:class|interface|record|enum|@interface)\\s+(\\w+)",
            Pattern.MULTILINE);

    @Test
    void everyPublicTypeHasAJavadocComment() throws IOException {
        List<String> undocumented = new ArrayList<>();
        int types = 0;
        for (String module : List.of("peft-api", "peft-djl", "peft-tribuo", "peft-cli", "site")) {
            try (Stream<Path> files = Files.walk(Path.of("..", module, "src", "main", "java"))) {
                for (Path file : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                    String source = Files.readString(file);
                    Matcher m = PUBLIC_TYPE.matcher(source);
                    while (m.find()) {
                        types++;
                        // the text before the declaration, after its annotations, must end a /** ... */ comment
                        String before = source.substring(0, m.start()).replaceAll("(?s)(\\s*@\\w+(\\([^)]*\\))?)+\\s*$", "");
                        if (!before.stripTrailing().endsWith("*/") || before.lastIndexOf("/**") < before.lastIndexOf("/*")) {
                            undocumented.add(file + ": " + m.group(1));
                        }
                    }
                }
            }
        }
        assertThat(types).isGreaterThan(80);
        assertThat(undocumented).isEmpty();
    }
}
